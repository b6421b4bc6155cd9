"""The O&M configuration file: schema (frozen objects) and loading with file:line:col errors."""

from gitops_promoter.config.loader import load_config, parse_config
from gitops_promoter.config.schema import Config

__all__ = ["Config", "load_config", "parse_config"]
