//! The .mol plan language: lexer, parser, resolver, compiler and interpreter.
