/**
 * The agent API's bodies (docs/api.md, "agent"): one record per request and answer, shared by the
 * daemon, which reads requests and writes answers, and the agent, which does the reverse. Read and
 * written only through {@link org.clonecast.common.api.AgentJson}: strict about what a call needs
 * (a missing field, a wrong type or an unknown enum value is an {@link
 * org.clonecast.common.api.InvalidBodyException} naming the field), lenient about what it does not
 * know (unknown fields are ignored, so either side may add fields). Field names are the wire names
 * and never change: agents in older netboot environments must still understand the daemon.
 */
package org.clonecast.common.api;
