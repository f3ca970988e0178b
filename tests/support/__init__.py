"""What every test tier shares: waiting for a condition (`wait_until`, `async_wait_until`),
running `slipway` in this process or as a process (`cli`), and the real `git` and `kubectl`
(`commands`)."""
