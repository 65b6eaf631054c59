/**
 * The unicast fallback (docs/unicast.md): when no multicast reaches a node, its agent fetches the
 * chunks it still lacks from the daemon over HTTP and hands them to the receiver's own checking and
 * writing pipeline.
 */
package org.clonecast.agent.unicast;
