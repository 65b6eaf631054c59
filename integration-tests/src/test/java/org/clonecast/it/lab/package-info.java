/**
 * The network-namespace lab that integration tests build their networks in: {@link
 * org.clonecast.it.lab.Lab} (a bridge in its own namespace, a server and N agents joined by veth
 * pairs; loss with nftables, rate limits with tc), {@link org.clonecast.it.lab.LabProcess} for the
 * commands a test runs inside it, and {@link org.clonecast.it.lab.Prereqs} for the tools it needs.
 * {@link org.clonecast.it.lab.QemuVm} PXE-boots a BIOS or UEFI virtual machine on the lab's bridge,
 * and {@link org.clonecast.it.lab.MarkerPayload} is the kernel + initramfs it boots to prove a boot
 * chain. {@link org.clonecast.it.lab.GoldenDisks} makes small golden disks without mounting; {@link
 * org.clonecast.it.lab.CaptureDisks} builds used multi-filesystem disks with bench/lib/golden-fs.sh
 * and checks a clone against their manifest. bench/lib/lab.sh builds the same topology from bash.
 * See docs/lab.md and docs/pxe-lab.md.
 */
package org.clonecast.it.lab;
