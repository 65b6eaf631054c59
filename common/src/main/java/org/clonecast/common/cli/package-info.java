/**
 * Command-line plumbing shared by {@code clonecast} and {@code clonecast-agent}: exit codes,
 * operator errors, progress output.
 */
package org.clonecast.common.cli;
