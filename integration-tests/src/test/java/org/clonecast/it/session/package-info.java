/** Daemon-driven re-imaging sessions in the namespace lab: agents in automatic mode, end to end. */
package org.clonecast.it.session;
