"""Test support: real servers started for tests (docker-registry, git daemon) and faithful
local stand-ins for what cannot run here. Never imported by the product."""
