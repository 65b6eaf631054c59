/**
 * Capturing a golden node over the network: the daemon's side of {@code clonecast image capture}
 * (capture assignments, the resumable chunk upload and its journal, publishing the image).
 */
package org.clonecast.server.capture;
