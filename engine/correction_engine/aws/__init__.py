"""The engine on AWS: the same app, contract handling and image operations, on AWS's own parts.

What runs where:

- **API containers** (ECS Fargate behind an Application Load Balancer; the contract's 20 MB
  ``image_file`` fits neither a Lambda request nor API Gateway) run
  ``correction-engine serve --backend aws``: the one FastAPI app of ``correction_engine.server``
  with :func:`~.api.create_aws_app`'s backends. A create stores the upload in S3
  (``sources/``), writes the task to DynamoDB and sends its id to SQS; a query reads the task
  and answers a finished one with an S3 presigned URL (valid one hour) or base64. Keys come
  from Secrets Manager (:mod:`.keys`); the per-key rate limit is a token bucket in DynamoDB
  (:mod:`.ratelimit`), shared by every container.
- **Workers** (Lambda container images, scaling with the queue) run :func:`.worker.handler`,
  fed by the SQS event source mapping: claim the task with a conditional write, run the same
  :class:`~correction_engine.server.workers.TaskRunner` the one-machine engine's threads run,
  write the result to S3 (``results/``) and finish the task once. :func:`.worker.dlq_handler`
  ends the tasks of dead-lettered messages failed.
- **State**: tasks in DynamoDB (:mod:`.tasks`; TTL attribute ``expires_at``, rate-limit buckets
  under ``rate#`` keys in the same table), work on SQS with a DLQ (:mod:`.queue`), bytes in S3
  with a lifecycle rule (:mod:`.blobs`). Configuration: :mod:`.settings` (the stack's
  environment variables).

On one machine (``correction-local run --engine-shape aws``) the same pieces run against a moto
server on loopback, the API on a uvicorn thread, and a poller standing in for the event source
mapping (``correction_local.engine_aws``).
"""
