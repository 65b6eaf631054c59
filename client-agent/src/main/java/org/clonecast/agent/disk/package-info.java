/**
 * Writing the target: opening and checking a file or block device, positional writes, flushing,
 * verification.
 */
package org.clonecast.agent.disk;
