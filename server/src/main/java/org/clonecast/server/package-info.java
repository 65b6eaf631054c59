/**
 * The head node's daemon, {@code clonecast serve}: {@link org.clonecast.server.Daemon} opens the
 * state and starts every configured service (HTTP API and dashboard, router adverts, DNS, TFTP,
 * DHCP, image store and sessions) on the provisioning interface, and stops them in reverse order.
 */
package org.clonecast.server;
