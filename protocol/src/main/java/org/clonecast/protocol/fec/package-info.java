/**
 * Erasure coding compatible with udpcast's FEC ({@code --fec SxR/Z}): arithmetic in GF(2^8) ({@link
 * org.clonecast.protocol.fec.Gf256}) and the systematic Cauchy code over it ({@link
 * org.clonecast.protocol.fec.CauchyCode}). Spec: docs/ref/udpcast-protocol.md §1.10, checked byte
 * for byte against a real {@code udp-sender --async --fec 8x8/128} capture (see {@code
 * CauchyCodeGoldenTest}).
 *
 * <p>Pure functions over caller-owned arrays: thread-safe as long as callers do not share the
 * output arrays between threads.
 */
package org.clonecast.protocol.fec;
