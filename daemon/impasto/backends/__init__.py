"""The engine behind the daemon's server: the modules that know both the engine and the server.

local.py (StylizerBackend: the server's Backend on this machine's engine), training_jobs.py (a
`train` request as a training on that engine), ray_cluster.py (RayBackend: each engine a Ray
actor; needs `impasto[cluster]`) and style_library.py (the user's folder of trained styles, which
the command line reads too). Nothing is imported here: each module is imported by name, so that
the command line's use of the library does not load torch or Ray.
"""
