/** Small concurrency helpers shared by the daemon and the agent. */
package org.clonecast.common.concurrent;
