"""The whole pipeline on one machine: embedded AWS, API Gateway and SQS emulation."""
