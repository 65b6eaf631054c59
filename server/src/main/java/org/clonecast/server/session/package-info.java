/**
 * Re-imaging sessions run by the daemon: marking the nodes, multicasting the image while their
 * agents register, receive and report, ending each node with its result and the session when all
 * have one (DESIGN.md, "Flow of one re-imaging").
 */
package org.clonecast.server.session;
