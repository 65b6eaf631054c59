/**
 * Chunk replication between the daemons sharing a store (docs/scale.md, "Replication"): {@link
 * org.clonecast.server.replicate.ImageReplicator} fetches an image's manifest and the chunks its
 * pool lacks from another daemon's peer routes ({@link org.clonecast.server.http.PeerRoutes}),
 * checking the manifest against the images row and every chunk against its digest.
 */
package org.clonecast.server.replicate;
