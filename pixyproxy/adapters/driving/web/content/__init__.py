"""Serving image bytes (`GET|HEAD /image/{guid}/content`), and every speedup it uses.

Images never change once made, so what serving one needs can be kept and reused freely. The
speedups live here together. What each buys is measured by `make bench`, scenario 3s
(`python -m bench --only 3s`): the same skewed load (Zipf over 200 images of 200 KB) against
pixyproxy with every speedup and with one taken out (`bench/ablations.py`), in one run. The
ratios below are from the run in `bench/RESULTS.md`; a speedup that buys under 5% goes (the
batched lookups of images a worker does not hold did: 0.80-1.00x, removed).

- Content facts (`cache.py`, `ContentCache`): an image's key, ETag, type and size kept per
  worker for `PIXYPROXY_CONTENT_CACHE_TTL_S`, so a hot image costs no database query; those
  of its renditions asked for (`?width=&format=`) with them. 1.31x in proxy mode, 1.50x for
  304s.
- Hot bytes (`ContentCache`): the bytes of small hot images kept within
  `PIXYPROXY_CONTENT_CACHE_BYTES`, with TinyLFU admission. 4.18x in proxy mode on S3; 1.04x
  on local disk, where the page cache and the next item already do the job.
- Presigned URL reuse (`ContentCache`): a URL reused while half its lifetime remains, since
  signing costs more than the rest of a redirect. 5.57x in redirect mode.
- The fast path (`fast_path.py`): GET and HEAD answered before FastAPI's routing, with the
  route's own function, renditions included. 1.88x in proxy mode, 2.09x for 304s.
- Reads at hand (`AtHandBlobReader`, local disk): bytes in the page cache read on the event
  loop with `preadv(RWF_NOWAIT)` instead of a threadpool round trip. 1.26x in proxy mode.

Renditions (`?width=&format=`) ride on all of these: in scenario 6, a kept 256-px WebP was
served at 1.24-1.52x the rate of its 200 KB original's route.

`source.CachedContent` puts the cache in front of the public use cases (images and their
renditions); `response.content_answer` is the one function that turns a request into an
answer, for the route and the fast path alike.
"""
