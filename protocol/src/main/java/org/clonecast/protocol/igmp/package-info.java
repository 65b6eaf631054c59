/**
 * IGMP as the head node's querier speaks it (RFC 2236, with RFC 3376's election rules): the message
 * codec and the pure election that decides when to send a General Query and when to stand down for
 * another querier. No sockets or clocks.
 */
package org.clonecast.protocol.igmp;
