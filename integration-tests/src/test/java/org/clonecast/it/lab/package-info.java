/**
 * The network-namespace lab that integration tests build their networks in: {@link
 * org.clonecast.it.lab.Lab} (a bridge in its own namespace, a server and N agents joined by veth
 * pairs; loss with nftables, rate limits with tc), {@link org.clonecast.it.lab.LabProcess} for the
 * commands a test runs inside it, and {@link org.clonecast.it.lab.Prereqs} for the tools it needs.
 * bench/lib/lab.sh builds the same topology from bash. See docs/lab.md.
 */
package org.clonecast.it.lab;
