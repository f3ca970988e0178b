"""GitOps adapter: the objects per environment (pure), and the cluster they are applied to."""
