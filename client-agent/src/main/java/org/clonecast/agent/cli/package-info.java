/** The {@code clonecast-agent} command line. */
package org.clonecast.agent.cli;
