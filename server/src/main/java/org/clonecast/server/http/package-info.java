/**
 * The daemon's HTTP server (Netty): iPXE scripts, boot files and the netboot environment for nodes;
 * the JSON API (docs/api.md), dashboard and metrics for the operator.
 */
package org.clonecast.server.http;
