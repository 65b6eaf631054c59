/**
 * Network plumbing shared by the server and the agent: interface lookup, Netty transport setup,
 * IPv4 helpers.
 */
package org.clonecast.common.net;
