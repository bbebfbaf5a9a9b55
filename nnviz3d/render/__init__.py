"""``nnviz3d render``: the viewer's scene drawn in headless Chromium and written as a picture
(PNG, transparent or on a colour) or a video (a run step by step, an orbit, a recipe's tour).

- ``command.py``: the command line (options, errors, writing the output atomically)
- ``source.py``: serving a SPEC, model file, recording or recipe on 127.0.0.1
- ``browser.py``: finding and driving Chromium on the viewer's render mode
- ``drawing.py``: a picture, or a video frame by frame, with an open browser
- ``video.py``: frame plans and the PyAV encoder
"""
