/**
 * PXE integration tests in the namespace lab: real firmware in QEMU ({@code PxeBootIT}: SeaBIOS +
 * iPXE and OVMF's EDK2 PXE booting through {@code clonecast serve} in full and proxy DHCP mode) and
 * the boot LAN's IPv6 router advertisement ({@code RouterAdvertIT}). See docs/pxe-lab.md.
 */
package org.clonecast.it.pxe;
