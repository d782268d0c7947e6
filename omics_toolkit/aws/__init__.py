"""The one package that imports boto3: sessions, clients and per-service façades."""

from omics_toolkit.aws.session import AwsContext, make_context

__all__ = ["AwsContext", "make_context"]
