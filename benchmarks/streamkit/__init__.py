"""Parts of the streaming benchmark (``benchmarks/streaming.py``, its entry point).

* ``constants``: the account, model, prompt and level settings both modes share;
* ``processes``: starting the stand-in and Afterdark, with a user and its token;
* ``client``: the aiohttp client, reading streamed replies, creating conversations;
* ``stats``: figures of the streams, percentiles and where the CPU went;
* ``levels``: one stream at a time, and many chats at once;
* ``report``: the tables, the speed targets and the final summary line.
"""
