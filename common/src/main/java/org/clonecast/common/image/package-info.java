/**
 * Image files on disk: reading and writing {@code .cci} images (format in {@code
 * docs/image-format.md}), chunking raw files and block devices on the fly, extracting and
 * verifying. Pure format work lives in {@code org.clonecast.protocol.image}; this package adds the
 * files, the parallel pipelines and crash safety (nothing half-written under a final name).
 */
package org.clonecast.common.image;
