package org.clonecast.it.lab;

/**
 * One host of a {@link Lab}: {@code name} is "server" or "a1".."aN", {@code netns} the network
 * namespace it lives in, {@code ip} its IPv4 address on the lab subnet and {@code iface} its only
 * interface there ("eth0"). Immutable.
 */
public record Host(String name, String netns, String ip, String iface) {}
