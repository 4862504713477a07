-- One database per service (and one for the route table), as in real mode.
CREATE DATABASE monolith;
CREATE DATABASE payments;
CREATE DATABASE inventory;
CREATE DATABASE routes;
