/**
 * Capturing this node's disk for the server: read-only, chunked and compressed on every core,
 * uploaded chunk by chunk, resumed after a dropped connection or a server restart.
 */
package org.clonecast.agent.capture;
