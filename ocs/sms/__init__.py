"""SMS billing with the Jasmin SMS gateway (issue 18): pricing (pure), events (pure), the service, the
RabbitMQ consumers (aio-pika) and the Gy CCR-E hook."""
