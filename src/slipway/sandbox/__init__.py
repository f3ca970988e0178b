"""Local emulators that speak the real wire protocols: a forge (GitHub/GitLab/Gitea REST and git
smart HTTP), a Kubernetes API server and Flux. They power `slipway demo`, `slipway sandbox` and
the test suite, and let users run Slipway in their own CI without a cluster."""

from slipway.sandbox._server import ServerThread

__all__ = ["ServerThread"]
