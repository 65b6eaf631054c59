/**
 * Talking to the daemon: registration, progress and the final result (the agent calls of
 * docs/api.md).
 */
package org.clonecast.agent.report;
