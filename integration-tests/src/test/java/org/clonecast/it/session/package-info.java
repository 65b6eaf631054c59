/**
 * Daemon-driven re-imaging sessions in the namespace lab: agents in automatic mode, end to end;
 * QEMU VMs PXE-booted into re-imaging (ClusterBootQemuIT) and into capture (CaptureQemuIT).
 */
package org.clonecast.it.session;
