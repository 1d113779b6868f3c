from tests.integration.collector.conftest import aws_env

__all__ = ["aws_env"]
