"""`impasto install krita|gimp`: put an editor plug-in where its host finds it.

An editor's embedded Python has neither pyzmq nor msgpack, and may be another Python version
than the one running the installer (Krita 5: 3.10 or 3.11, GIMP 3 and Krita 6: 3.13). So the
installer copies the plug-in, the pure-Python protocol package, and pyzmq/msgpack unpacked from
wheels for every Python version the host might embed, plus an `impasto.json` telling the plug-in
where the daemon listens and how to start it (the host cannot find the Python that has torch).
"""

from .hosts import HOSTS, Host
from .install import InstallError, InstallOptions, install, uninstall

__all__ = ["HOSTS", "Host", "InstallError", "InstallOptions", "install", "uninstall"]
