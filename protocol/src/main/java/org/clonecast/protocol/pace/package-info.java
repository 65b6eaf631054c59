/**
 * Pacing shared by the native and the udpcast-compatible senders: {@link
 * org.clonecast.protocol.pace.Pacer}, a token bucket whose rate follows the receivers' loss. Pure:
 * no sockets, threads or clocks; callers pass {@code nowNanos}. Single-threaded.
 */
package org.clonecast.protocol.pace;
