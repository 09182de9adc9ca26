from services.demo_upstream.app import main

main()
