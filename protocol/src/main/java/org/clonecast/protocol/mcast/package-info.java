/**
 * clonecast's native multicast imaging protocol (docs/protocol.md): the UDP packets (data, FEC
 * repair, announcements, NAKs, status), the TCP control frames (join, manifest, needs, done,
 * result), and the pure machines that drive a sender and a receiver. No sockets, threads or clocks
 * here: callers pass {@code nowNanos} and send what the machines return.
 */
package org.clonecast.protocol.mcast;
