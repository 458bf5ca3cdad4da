from pulltheplug.cli import main

main()
