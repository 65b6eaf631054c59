/**
 * {@code /metrics}: every subsystem's counters in the Prometheus text exposition format (version
 * 0.0.4), read at scrape time from the counters the subsystems keep anyway.
 */
package org.clonecast.server.metrics;
