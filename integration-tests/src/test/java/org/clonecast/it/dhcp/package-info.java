/**
 * DHCP interop in the namespace lab: {@code clonecast serve} in full mode against udhcpc, dhclient
 * and perfdhcp, in proxy mode beside dnsmasq with a PXE-like client of our own ({@link
 * org.clonecast.it.dhcp.PxeClient}), and its leases across a SIGKILL.
 */
package org.clonecast.it.dhcp;
