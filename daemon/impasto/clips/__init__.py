"""Video clips: reading and writing them, optical flow, and stylizing them frame by frame."""
