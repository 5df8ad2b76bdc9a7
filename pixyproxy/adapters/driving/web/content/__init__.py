"""Serving image bytes (`GET|HEAD /image/{guid}/content`), and every speedup it uses.

Images never change once made, so what serving one needs can be kept and reused freely. The
speedups live here together, each with what it bought in `make bench` (scenario 3, 200 KB
PNG, 1,000 images asked round robin; the ratios are to the same run without the speedup):

- `ContentCache` facts (`cache.py`): an image's key, ETag, type and size kept per worker for
  `PIXYPROXY_CONTENT_CACHE_TTL_S`, so a hot image costs no database query.
- `ContentCache` bytes: the bytes of small hot images within `PIXYPROXY_CONTENT_CACHE_BYTES`,
  with TinyLFU admission.
- `ContentCache` URLs: presigned URLs reused while half their lifetime remains (redirect mode).
- `ContentLoader` (`loader.py`): lookups for images the worker does not hold that arrive
  together share one query.
- `ContentFastPath` (`fast_path.py`): GET and HEAD answered before FastAPI's routing.
- `AtHandBlobReader` (local disk): bytes in the page cache read on the event loop with
  `preadv(RWF_NOWAIT)` instead of a threadpool round trip.

`response.content_response` is the one function that turns an image's facts into an answer;
the route and the fast path both call it.
"""
