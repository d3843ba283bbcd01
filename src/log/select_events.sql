SELECT e.position, s.name, e.seq, e.id, e.occurred_at, e.account_sid, e.correlation_id,
       e.causation_id, e.region, e.type, e.schema_version, e.data
FROM events e JOIN streams s ON s.id = e.stream_id
