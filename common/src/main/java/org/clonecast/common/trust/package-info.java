/**
 * Image signing keys: the daemon's Ed25519 key that signs every manifest it stores or serves, and
 * the trusted public key an agent checks them against (docs/security.md, "Keys").
 */
package org.clonecast.common.trust;
