/**
 * The agent's receive pipeline, shared by both receive paths (the native {@code agent.mcast} and
 * the udpcast-compatible {@code agent.udpcast}): what comes after the network, off its event loop:
 * decode and verify, write to the target in order, report back, sync, and where the time went.
 */
package org.clonecast.agent.receive;
