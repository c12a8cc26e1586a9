"""Optical flow between frames, warping by it, where it can be trusted, and how much a clip
flickers.

The flow is OpenCV's DIS (Kroeger et al. 2016, `cv2.DISOpticalFlow_create`), on the frames'
grey levels. Conventions, used throughout the clips package:

- `optical_flow(a, b)` is defined on a's pixels: pixel p of `a` shows what pixel
  p + flow[p] of `b` shows, so `warp(b, optical_flow(a, b))` looks like `a`. To carry the
  previous frame's result onto frame t, use `warp(previous, optical_flow(frame_t, frame_t-1))`.
- `consistency(forward, backward)` is the forward-backward check of Sundaram et al. 2010 as
  Ruder et al. 2016 use it, on `forward`'s pixels.
- `warping_error` is Lai et al. 2018's measure of temporal (in)stability.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

# DIS's "medium" preset: about 3 ms a frame at 256 px on one core, and good enough on the
# moving square and the test clips; "fast" loses small moving parts.
_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# The forward-backward check (Sundaram et al. 2010, Ruder et al. 2016): a round trip may miss
# its start by this fraction of the flows' squared magnitudes plus a constant (pixels^2).
_ROUND_TRIP_RELATIVE = 0.01
_ROUND_TRIP_PIXELS = 0.5
# Motion boundaries (Ruder et al.): where the flow's gradient is large, the flow is unreliable.
_BOUNDARY_RELATIVE = 0.01
_BOUNDARY_CONSTANT = 0.002


def _grey(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"frames are uint8 arrays, not {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"a frame is H x W or H x W x 3, not {'x'.join(map(str, image.shape))}")


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The flow from `a` to `b` (uint8 RGB or grey, H x W (x 3), the same size) as H x W x 2
    float32 (x, y) displacements in pixels, on a's pixels: a[p] ~ b[p + flow[p]]."""
    ga, gb = _grey(a), _grey(b)
    if ga.shape != gb.shape:
        raise ValueError(f"frames of different sizes: {ga.shape} and {gb.shape}")
    dis = cv2.DISOpticalFlow_create(_PRESET)  # type: ignore[attr-defined]
    flow = dis.calc(ga, gb, None)
    return np.asarray(flow, dtype=np.float32)


def farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The flow from `a` to `b` as optical_flow gives it, by another method: Farnebäck's
    polynomial expansion (`cv2.calcOpticalFlowFarneback`, OpenCV's defaults of its examples).
    For a warping error that does not judge a clip by the very flow that carried its frames."""
    ga, gb = _grey(a), _grey(b)
    if ga.shape != gb.shape:
        raise ValueError(f"frames of different sizes: {ga.shape} and {gb.shape}")
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]
    return np.asarray(flow, dtype=np.float32)


# A flow method: (a, b) -> the flow from a to b, H x W x 2 float32.
FlowMethod = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sample_at(
    image: np.ndarray, flow: np.ndarray, border: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=border)


def warp(image: np.ndarray, flow: np.ndarray, bilinear: bool = False) -> np.ndarray:
    """`image` moved by `flow` (`cv2.remap`): out[p] = image[p + flow[p]], the same dtype and
    channels; outside the image, its nearest edge.

    Bicubic by default: a clip's result is warped again at every frame, and bilinear blurs it
    a little more each time (on carphone at 256 px with the fast method, temporal 0.7, the
    style loss rose 1.23x over independent frames with bilinear, 1.17x with bicubic, at the
    same warping error). `bilinear`: as Lai et al.'s warping error warps."""
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    mode = cv2.INTER_LINEAR if bilinear else cv2.INTER_CUBIC
    return _sample_at(np.ascontiguousarray(image), flow, cv2.BORDER_REPLICATE, mode)


def consistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Where `forward` (a -> b, on a's pixels) can be trusted: H x W float32, 1 kept, 0 not.

    A pixel is kept where the round trip a -> b -> a by `forward` then `backward` (b -> a, on
    b's pixels) returns close to where it started, relative to the flows' magnitudes, and it is
    not on a motion boundary. Pixels of `a` that `b` does not show (occluded in b, or revealed
    in a by motion) fail it; so do those whose flow leaves the frame."""
    h, w = forward.shape[:2]
    back = _sample_at(backward, forward, cv2.BORDER_CONSTANT)
    trip = forward + back
    sq = lambda f: (f**2).sum(axis=2)  # noqa: E731
    ok = sq(trip) <= _ROUND_TRIP_RELATIVE * (sq(forward) + sq(back)) + _ROUND_TRIP_PIXELS
    gy_u, gx_u = np.gradient(forward[..., 0])
    gy_v, gx_v = np.gradient(forward[..., 1])
    grad = gx_u**2 + gy_u**2 + gx_v**2 + gy_v**2
    ok &= grad <= _BOUNDARY_RELATIVE * sq(forward) + _BOUNDARY_CONSTANT
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = xs + forward[..., 0], ys + forward[..., 1]
    ok &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return ok.astype(np.float32)


def backward_mask(
    frame: np.ndarray, previous: np.ndarray, method: FlowMethod = optical_flow
) -> tuple[np.ndarray, np.ndarray]:
    """(flow, mask) to carry `previous`'s result onto `frame`: the flow frame -> previous
    (for `warp`) and where it is consistent."""
    flow = method(frame, previous)
    return flow, consistency(flow, method(previous, frame))


def _as_float(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return image.astype(np.float32)


def warping_error(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], method: FlowMethod = optical_flow
) -> tuple[float, list[float]]:
    """Lai et al. 2018's warping error of `outputs` (uint8, or float 0..1, frames of the
    `inputs`' size): for each frame t >= 1, the mean of |O_t - warp(O_t-1, flow(I_t -> I_t-1))|
    over channels and the pixels the consistency check keeps, in 0..1 units. Returns the mean
    over frames and the per-frame values (one fewer than the frames). `outputs` = `inputs` gives
    the input clip's own error: the floor a stylized clip can hope for. `method`: the flow
    (farneback_flow judges a clip by another flow than the one that made it)."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} input frames but {len(outputs)} output frames")
    per_frame = []
    for t in range(1, len(inputs)):
        flow, mask = backward_mask(inputs[t], inputs[t - 1], method)
        moved = _as_float(warp(outputs[t - 1], flow, bilinear=True))
        diff = np.abs(_as_float(outputs[t]) - moved)
        diff = diff.mean(axis=2) if diff.ndim == 3 else diff
        kept = float(mask.sum())
        per_frame.append(float((diff * mask).sum() / kept) if kept > 0 else 0.0)
    mean = float(np.mean(per_frame)) if per_frame else 0.0
    return mean, per_frame
