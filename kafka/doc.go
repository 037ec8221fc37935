// Package kafka holds what vigil needs of Kafka beyond the franz-go client:
// the connection settings (brokers, TLS, SASL) turned into kgo options, the
// topics vigil creates with their layout and retention, the deletion of
// records a consumer group has consumed (TrimCommitted), and the embedded
// broker that `vigil run` starts when no brokers are configured.
package kafka
