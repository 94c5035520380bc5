package engine

const StrongSize = 16
