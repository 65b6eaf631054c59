package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.parallel.Resources;

/**
 * Marks a test class that runs with the machine to itself: no class of either lane beside it
 * (JUnit's global lock, taken for writing; every other class holds it for reading while it runs).
 * For a class whose several VMs keep both cores busy for minutes: beside a light class, whose JVMs
 * took a core from them, {@code ClusterBootQemuIT} took 637–704 s in the suite, and 463–552 s alone
 * (docs/benchmarks.md, "The test suite's time and the CLI's start"). JUnit runs such a class once
 * every class of the lanes is done (seen in every run so far), so the lanes keep both cores until
 * then. See {@link HeavyLane}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock(value = Resources.GLOBAL, mode = ResourceAccessMode.READ_WRITE)
public @interface Alone {}
